DROP TABLE divergences;
DROP TABLE outbox;
