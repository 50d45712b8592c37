"""The synthetic demo community: generated residents, check-ups and hotline complaints."""
