"""ComponentResources: the shared event parts and one component per lab per participant."""
