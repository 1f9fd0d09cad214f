"""Prepare a TFDS image dataset once, in the array_record format the trainer reads.

    python -m data.prepare --dataset CIFAR10 [--data_dir DIR]
    python -m data.prepare --dataset LSUN --category bedroom [--data_dir DIR]
    python -m data.prepare --dataset FFHQ --tfrecords_path ffhq-r08.tfrecords   # checks only

This is the one step that needs TensorFlow (`pip install tensorflow-cpu
tensorflow-datasets`) and the network: it runs TFDS's own builder
(`download_and_prepare(file_format='array_record')`). Training and evaluation
then read the prepared files without TensorFlow. Use the same `--data_dir` as
the config's `data.data_dir` (default: TFDS's default directory). Some builders
need extra packages or a manual download (LSUN: tensorflow-io; CelebA: Google
Drive quotas); TFDS's error says so.

FFHQ and CelebA-HQ are read from the original tfrecords directly, so there is
nothing to prepare: `--tfrecords_path` just indexes the file and reports the
record count and image shape.
"""
import argparse
import sys

from data import sources, tfrecord
from utils import extras


def prepare_tfds(dataset: str, data_dir=None, category=None):
  """Runs TFDS's builder for `dataset` with array_record output; returns the builder."""
  extras.require('tensorflow', f'preparing the TFDS dataset {dataset}')
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  if dataset not in sources.TFDS_DATASETS:
    raise ValueError(f"--dataset={dataset!r} is not a TFDS dataset; allowed: "
                     f"{', '.join(sources.TFDS_DATASETS)}")
  if dataset == 'LSUN' and not category:
    raise ValueError("--dataset=LSUN needs --category (e.g. bedroom, church_outdoor)")
  name = sources.TFDS_DATASETS[dataset][0].format(category=category)
  builder = tfds.builder(name, data_dir=data_dir, file_format='array_record')
  builder.download_and_prepare()
  return builder


def check_tfrecords(path: str):
  """Indexes an original-format tfrecords file: (number of records, (H, W, C))."""
  records = tfrecord.TFRecordFile(path)
  try:
    shape = tfrecord.decode_image(records[0]).shape
    return len(records), shape
  finally:
    records.close()


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--dataset', required=True,
                      choices=sorted(sources.TFDS_DATASETS) + ['FFHQ', 'CelebAHQ'])
  parser.add_argument('--data_dir', default=None, help='TFDS data directory (config.data.data_dir)')
  parser.add_argument('--category', default=None, help='LSUN category (config.data.category)')
  parser.add_argument('--tfrecords_path', default=None,
                      help='FFHQ / CelebAHQ tfrecords file (config.data.tfrecords_path)')
  args = parser.parse_args(argv)
  if args.dataset in ('FFHQ', 'CelebAHQ'):
    if not args.tfrecords_path:
      parser.error(f"--dataset={args.dataset} needs --tfrecords_path")
    n, shape = check_tfrecords(args.tfrecords_path)
    print(f"{args.tfrecords_path}: {n} records of shape {shape}; read directly, nothing to prepare")
    return 0
  if args.dataset == 'LSUN' and not args.category:
    parser.error("--dataset=LSUN needs --category (e.g. bedroom, church_outdoor)")
  builder = prepare_tfds(args.dataset, args.data_dir, args.category)
  print(f"prepared {builder.info.full_name} in {builder.data_dir}: "
        + ', '.join(f"{k}={v.num_examples}" for k, v in builder.info.splits.items()))
  return 0


if __name__ == '__main__':
  sys.exit(main())
