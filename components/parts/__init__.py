"""Building blocks shared by the lab and event components."""
