"""Clinical scale: depression score, placebo response, dissociation and blood pressure."""
