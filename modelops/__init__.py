"""Model registry, deployments (shadow, canary, blue-green), drift and skew."""
