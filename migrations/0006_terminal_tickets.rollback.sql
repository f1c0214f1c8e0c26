DROP INDEX terminal_tickets_expiry;
DROP TABLE terminal_tickets;
