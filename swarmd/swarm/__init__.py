"""The swarm game: rounds, stages and environments."""
