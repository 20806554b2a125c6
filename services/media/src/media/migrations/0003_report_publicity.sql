-- Whether each report is public, as report.submitted said: a file claimed later for the report (the agency's
-- answer) is public exactly when the report is.
CREATE TABLE report_publicity (
    report_id uuid    PRIMARY KEY,
    public    boolean NOT NULL
);
