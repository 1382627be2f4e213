"""Pure rules over digitised minutes, paper readings and stroke timelines,
returning findings with stable codes and evidence. Depends only on pen.
(Built under issue 7.)
"""
