DROP TABLE IF EXISTS originator_congestion;

