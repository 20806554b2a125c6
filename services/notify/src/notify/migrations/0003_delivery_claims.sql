-- Which claim took a delivery: when the COMMIT of a claim is lost with the connection, the sender does not
-- know whether it claimed anything; afterwards it finds its rows by this id (and knows it sent none of them).
ALTER TABLE deliveries ADD COLUMN claim_id uuid;
CREATE INDEX deliveries_claim ON deliveries (claim_id) WHERE status = 'sending';
