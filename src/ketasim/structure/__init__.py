"""Structure scale: dendritic spines of prefrontal pyramidal neurons."""
