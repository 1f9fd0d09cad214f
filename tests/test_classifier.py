"""The noise-conditional classifier: the original's size, its conditioning, its training loop."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fast_compile import compiled

from configs.digits import ddpmpp_vp
from configs.ve import cifar10_classifier
from models import classifier as classifier_lib
from models import scoring
import sde_lib
from experiment import checkpoints as ckpt_lib
from training import classifier as train_classifier

# The original's WideResnet(blocks_per_group=4, channel_multiplier=10, num_outputs=10)
# counted by hand from its code (models/wideresnet_noise_conditional.py of score_sde):
#   embedding: Fourier W 128 + Dense 256->512 (131,584) + Dense 512->512 (262,656)
#   stem conv 3x3x3x16 = 432
#   group 1 (160 ch): block 0 335,872 + 3 x 543,520          = 1,966,432
#   group 2 (320 ch): block 0 1,547,520 + 3 x 2,008,640      = 7,573,440
#   group 3 (640 ch): block 0 5,859,840 + 3 x 7,703,680      = 28,970,880
#   (a block: GroupNorm 2C_in + conv 9 C_in C + Dense 512 C + C + GroupNorm 2C + conv 9 C^2)
#   final GroupNorm 1,280 + Dense 640->10 6,410
ORIGINAL_WRN_PARAMS = (128 + 131_584 + 262_656 + 432 + 1_966_432 + 7_573_440 + 28_970_880
                       + 1_280 + 6_410)


def test_full_size_wideresnet_has_the_original_parameter_count():
  """The CIFAR-10 classifier config builds the original's WRN-28-10: 38,913,242 parameters
  (counted by hand from the original's code above; also checked against the original's module
  itself when this was written), shapes only, nothing allocated; every parameter float32."""
  assert ORIGINAL_WRN_PARAMS == 38_913_242
  config = cifar10_classifier.get_config()
  variables = jax.eval_shape(
      lambda: classifier_lib.init_classifier(jax.random.PRNGKey(0), config)[1])
  assert classifier_lib.count_params(variables) == ORIGINAL_WRN_PARAMS
  # float32 parameters whatever jax's default float (tests run with float64 enabled), so a
  # checkpoint written in one mode restores unchanged in the other.
  assert {leaf.dtype for leaf in jax.tree.leaves(variables)} == {jnp.dtype('float32')}
  logits = jax.eval_shape(
      lambda v: classifier_lib.get_logit_fn(sde_lib.get_sde(config),
                                            classifier_lib.get_classifier(config))(
          v, jnp.zeros((2, 32, 32, 3)), jnp.full((2,), 0.5)), variables)
  assert logits.shape == (2, 10)


def tiny_config():
  c = ddpmpp_vp.get_config()
  k = c.classifier
  k.blocks_per_group, k.channel_multiplier, k.embedding_size = 1, 1, 8
  k.n_iters, k.batch_size, k.snapshot_freq = 12, 8, 12
  c.training.snapshot_freq_for_preemption = 4
  c.training.log_freq = 4
  return c


@pytest.mark.slow
def test_logit_fn_is_conditioned_on_the_marginal_std_and_keeps_dtype():
  """logit_fn(v, x, t) equals the network applied to scoring.classifier_noise_labels(sde, t),
  which is the marginal std s(t) (the original's ve_noise_scale); float64 in, float64 out."""
  c = tiny_config()
  sde = sde_lib.get_sde(c)
  model = classifier_lib.get_classifier(c)
  v = jax.jit(lambda k: classifier_lib.init_classifier(k, c)[1])(jax.random.PRNGKey(0))
  x = jax.random.normal(jax.random.PRNGKey(1), (3, 8, 8, 1), jnp.float32)
  t = jnp.array([1e-3, 0.3, 1.], jnp.float32)
  std = sde.marginal_prob(jnp.zeros_like(x), t)[1]
  np.testing.assert_allclose(scoring.classifier_noise_labels(sde, t), std, rtol=1e-7)
  logit_fn = classifier_lib.get_logit_fn(sde, model)
  # Both calls in one compiled program (compiling is most of this test's time).
  logits, direct, out = compiled(
      lambda v, x, t, std: (logit_fn(v, x, t), model.apply(v, x, std),
                            logit_fn(v, jnp.repeat(x[:1], 3, axis=0), t)), v, x, t, std)
  assert logits.shape == (3, 10)
  np.testing.assert_allclose(logits, direct, rtol=1e-6)
  x64 = jax.ShapeDtypeStruct(x.shape, jnp.float64)
  assert jax.eval_shape(logit_fn, v, x64, t.astype(jnp.float64)).dtype == jnp.float64
  # Different noise levels give different logits for the same image.
  assert np.abs(np.asarray(out[0] - out[2])).max() > 1e-6


def test_labelled_batches_pair_each_image_with_its_label():
  """The classifier's batches are the score model's image batches, with the labels of the same
  examples (checked against the digits split directly)."""
  from data import digits, labelled
  c = tiny_config()
  ds = labelled.get_labelled_dataset(train_classifier.training_config(c), 'train')
  images, labels = digits.load_split('train')
  x, y = ds.batch(3)
  idx = ds.images.example_indices(3)
  assert x.shape == (8, 8, 8, 1) and y.dtype == np.int32
  np.testing.assert_array_equal(y, labels[idx])
  assert np.all(np.floor((x + 1) / 2 * 17) == images[idx])   # dequantised level k + u, u in [0,1)


@pytest.mark.slow
def test_classifier_training_resumes_exactly(tmp_path):
  """Stopping at step 4 (a preemption checkpoint) and starting again gives the state of an
  uninterrupted 12-step run, bit for bit; the loss is finite and logged."""
  c = tiny_config()
  trainer = train_classifier.ClassifierTrainer(train_classifier.training_config(c))
  full = train_classifier.train(c, str(tmp_path / 'full'), trainer=trainer)
  train_classifier.train(c, str(tmp_path / 'split'), max_steps=4, trainer=trainer)
  with ckpt_lib.Checkpoints(str(tmp_path / 'split' / 'classifier'), async_save=False) as ckpts:
    assert ckpts.latest() == ('preemption', 4)
  resumed = train_classifier.train(c, str(tmp_path / 'split'), trainer=trainer)
  assert int(resumed.step) == 12
  for a, b in zip(jax.tree.leaves(jax.device_get(full)), jax.tree.leaves(jax.device_get(resumed)),
                  strict=True):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # Resuming with another architecture in the same directory is refused, naming the field.
  c.classifier.channel_multiplier = 2
  with pytest.raises(ValueError, match='classifier.channel_multiplier: checkpoint 1, config 2'):
    train_classifier.train(c, str(tmp_path / 'split'))


@pytest.mark.slow
def test_cross_entropy_is_log_classes_for_a_constant_classifier():
  """With all logits equal (zero last layer) the loss is log(num_classes) exactly, at any t."""
  c = tiny_config()
  sde = sde_lib.get_sde(c)
  model = classifier_lib.get_classifier(c)
  v = jax.jit(lambda k: classifier_lib.init_classifier(k, c)[1])(jax.random.PRNGKey(0))
  v = jax.tree_util.tree_map_with_path(
      lambda p, a: jnp.zeros_like(a) if 'logits' in jax.tree_util.keystr(p) else a, v)
  loss_fn = train_classifier.get_loss_fn(sde, model)
  x = jnp.zeros((4, 8, 8, 1), jnp.float64)
  loss = compiled(loss_fn, jax.random.PRNGKey(0), v, (x, jnp.arange(4)))
  np.testing.assert_allclose(loss, np.log(10.), rtol=1e-12)
