-- The reporter's current choice of notification channels (the contact itself travels sealed for notify and
-- is not kept here). NULL: the reporter gave no address for that channel, so it cannot be turned on; reports
-- from before this migration had no sealed contact, so NULL is also right for them.
ALTER TABLE reports
    ADD COLUMN notify_email boolean,
    ADD COLUMN notify_sms   boolean,
    ADD COLUMN notify_push  boolean;
