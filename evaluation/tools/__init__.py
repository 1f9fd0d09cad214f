"""One-off tools run by hand, never by a training or eval run.

- `evaluation.tools.convert_inception`: converts pytorch-fid's FID Inception
  weight file (a torch state_dict; needs torch, for the conversion only) to
  the .npz that `evaluation.inception.load_params` reads:
  `python -m evaluation.tools.convert_inception SRC.pth DST.npz`.
"""
