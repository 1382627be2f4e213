"""Reading ink and scanned images: online recognition of pen strokes per field
kind and offline reading of scanned minutes, with calibrated confidences.
Pure: depends only on pen. (Built under issue 6.)
"""
