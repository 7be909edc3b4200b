"""Motion from aligned face crops: optical flow, strain, head-motion removal, phases, regions."""
