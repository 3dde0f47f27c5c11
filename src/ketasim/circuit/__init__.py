"""Circuit scale: prefrontal pyramidal, PV and SST populations driven through NMDA receptors."""
