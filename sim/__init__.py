"""modsnn.sim"""
