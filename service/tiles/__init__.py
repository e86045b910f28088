"""Vector tiles (MVT) of the listed sites, clustered at low zoom."""
