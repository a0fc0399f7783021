"""The observatory: evidence of denial of access and of routing disruption.

``access/`` (the probe) and ``routing/`` (the MRT reader and detectors) are plain Python and
import no Django; the Django app around them (models, services, views) turns their signed
evidence bundles into draft reports and statistics.
"""
