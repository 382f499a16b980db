"""Learn scoring points from a CRM's own history, and write them as a plain scoring.yaml."""
