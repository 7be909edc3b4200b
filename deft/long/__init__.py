"""Long videos: streamed decoding, several faces tracked over minutes, per-face motion series, spotting."""
