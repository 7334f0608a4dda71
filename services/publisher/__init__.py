"""The publisher (port 50053): takes posts from JetStream to Facebook, Instagram or a webhook, once."""
