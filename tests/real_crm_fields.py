"""What real CRMs have, as data: the contact properties of a real HubSpot portal and Salesforce's standard fields.

CRM_WIRE.md states these facts in prose (it is not machine-readable), so the lists live here, each entry checked
against the vendor's documentation: HubSpot's default contact properties (a real portal's property list) and the
Salesforce Object Reference for Lead, Contact and Opportunity. Only properties leadtherm or its sandboxes use are
listed; a name belongs here only if a real portal or org has it without any setup.
"""

from __future__ import annotations

# Default contact properties of every HubSpot portal (no setup). `hs_num_open_deals` is NOT here: it is a
# company property ("Number of open deals"); contacts carry deal roll-ups only as the ones below.
HUBSPOT_CONTACT_PROPERTIES = frozenset({
    "hs_object_id", "createdate", "lastmodifieddate",
    "firstname", "lastname", "email", "company", "jobtitle", "numemployees", "annualrevenue", "industry", "country",
    "hs_analytics_source", "hs_analytics_num_page_views", "hs_analytics_num_visits",
    "hs_analytics_last_visit_timestamp", "num_conversion_events",
    "hs_email_open", "hs_email_click", "hs_email_replied", "hs_email_bounce", "hs_email_optout",
    "hs_email_last_open_date", "hs_last_sales_activity_timestamp", "notes_last_updated",
    "lifecyclestage", "hs_lead_status",
    "num_associated_deals", "total_revenue", "recent_deal_amount", "recent_deal_close_date",
    "first_deal_created_date",
    "associatedcompanyid",  # "Primary associated company ID", set by HubSpot from the contact-company association
})  # fmt: skip

HUBSPOT_COMPANY_ONLY = frozenset({"hs_num_open_deals"})

# Standard fields (Salesforce Object Reference), without the org's custom `__c` fields.
SALESFORCE_STANDARD_FIELDS: dict[str, frozenset[str]] = {
    "Lead": frozenset({
        "Id", "IsDeleted", "MasterRecordId", "LastName", "FirstName", "Salutation", "Name", "Title", "Company",
        "Street", "City", "State", "PostalCode", "Country", "Address", "Phone", "MobilePhone", "Fax", "Email",
        "Website", "Description", "LeadSource", "Status", "Industry", "Rating", "AnnualRevenue", "NumberOfEmployees",
        "OwnerId", "HasOptedOutOfEmail", "HasOptedOutOfFax", "DoNotCall", "IsConverted", "ConvertedDate",
        "ConvertedAccountId", "ConvertedContactId", "ConvertedOpportunityId", "IsUnreadByOwner", "CreatedDate",
        "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp", "LastActivityDate",
        "LastViewedDate", "LastReferencedDate", "EmailBouncedReason", "EmailBouncedDate", "IndividualId",
    }),
    "Account": frozenset({
        "Id", "IsDeleted", "MasterRecordId", "Name", "Type", "ParentId", "BillingStreet", "BillingCity",
        "BillingState", "BillingPostalCode", "BillingCountry", "BillingAddress", "ShippingStreet", "ShippingCity",
        "ShippingState", "ShippingPostalCode", "ShippingCountry", "ShippingAddress", "Phone", "Fax", "AccountNumber",
        "Website", "Sic", "Industry", "AnnualRevenue", "NumberOfEmployees", "Ownership", "TickerSymbol",
        "Description", "Rating", "Site", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate",
        "LastModifiedById", "SystemModstamp", "LastActivityDate", "LastViewedDate", "LastReferencedDate",
    }),
    "Contact": frozenset({
        "Id", "IsDeleted", "MasterRecordId", "AccountId", "LastName", "FirstName", "Salutation", "Name",
        "MailingStreet", "MailingCity", "MailingState", "MailingPostalCode", "MailingCountry", "MailingAddress",
        "Phone", "Fax", "MobilePhone", "HomePhone", "OtherPhone", "ReportsToId", "Email", "Title", "Department",
        "LeadSource", "Birthdate", "Description", "OwnerId", "HasOptedOutOfEmail", "HasOptedOutOfFax", "DoNotCall",
        "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp", "LastActivityDate",
        "LastViewedDate", "LastReferencedDate", "EmailBouncedReason", "EmailBouncedDate", "IsEmailBounced",
        "IndividualId",
    }),
    "Opportunity": frozenset({
        "Id", "IsDeleted", "AccountId", "Name", "Description", "StageName", "Amount", "Probability", "CloseDate",
        "Type", "NextStep", "LeadSource", "IsClosed", "IsWon", "ForecastCategory", "ForecastCategoryName",
        "CampaignId", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
        "SystemModstamp", "LastActivityDate",
    }),
}  # fmt: skip

# Standard lookups a SOQL query may traverse: object -> relationship name -> parent object.
SALESFORCE_RELATIONSHIPS: dict[str, dict[str, str]] = {
    "Lead": {"ConvertedOpportunity": "Opportunity", "ConvertedContact": "Contact", "ConvertedAccount": "Account"},
    "Contact": {"Account": "Account", "ReportsTo": "Contact"},
    "Opportunity": {"Account": "Account"},
    "Account": {"Parent": "Account"},
}
