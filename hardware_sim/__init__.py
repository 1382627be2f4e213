"""Simulated pens: handwriting from real glyphs, form filling, virtual serial
ports, record/replay, fault and fraud injection, scanned-paper rendering.
Never recognition or HTTP. (Built under issue 3.)
"""
