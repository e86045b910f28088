"""OGC API - Features (Part 1: Core) over the sites, for GIS clients."""
