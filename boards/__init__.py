"""modsnn.boards"""
