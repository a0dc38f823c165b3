"""3D ACE itself, in the order of the data flow: video (decode, clips) -> supervoxels -> features ->
concepts -> tcav -> bank (offline), and removal -> explainer -> messages (per request)."""
