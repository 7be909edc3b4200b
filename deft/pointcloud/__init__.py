"""3D facial point clouds per frame (landmarks lifted with the fitted head pose) and a small Point-MAE
encoder with a domain adapter, pre-trained on the realistic world and fine-tuned for emotion and AUs.

Needs torch (the `train` or `tools` extra) for the model; lifting needs only the base install.
"""
