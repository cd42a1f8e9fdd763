"""`voxel-gan`: a class-conditional 3D-GAN over 32^3 occupancy, trained on the procedural set."""
