"""Engine: inference pipeline (images, videos), training and batch inference."""
