"""The station agent: reads a pen over serial/USB, journals every event
durably, signs and uploads batches, shows the president what is happening.
Never recognition or the centre's database. (Built under issue 4.)
"""
