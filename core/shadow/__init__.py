"""The challenger beside the champion: shadow scoring, canary answers and their live comparison."""
