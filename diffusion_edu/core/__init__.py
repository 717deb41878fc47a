"""The bottom layer: input checks, the runtime (device, seeding, threads, budget, cache folder)
and small tensor helpers. Every other layer may import it; it imports no other layer."""
