"""The demonstrations behind ``plume demo``: the whole chain, or one PV's wire."""
