"""The built-in map page at `/`: MapLibre GL JS over the service's own vector tiles."""
