"""The central FastAPI service: enrolment, batch intake, storage, ink
assembly, recognition scheduling, review, dashboard, exports, users, audit.
(Built under issue 5.)
"""
