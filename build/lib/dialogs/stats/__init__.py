"""/stats for staff: the retention figures and charts in the support group."""
