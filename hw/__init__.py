"""modsnn.hw"""
