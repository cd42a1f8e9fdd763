"""What every trainer shares: the run directory (`run`), GAN helpers (`gan`), the training
loop and its logging (`loop`), config dataclasses as command lines (`config`), and the export
command (`export`)."""
