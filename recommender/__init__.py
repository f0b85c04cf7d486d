"""Training, publishing and serving the ALS recommendation model."""
