DROP TABLE signals;
DROP TABLE ratings;
DROP TABLE trips;
