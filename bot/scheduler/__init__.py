"""Due work in the database, claimed by a short APScheduler tick. Nothing is held in memory between ticks."""
