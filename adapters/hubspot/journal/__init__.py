"""HubSpot's webhooks journal as a pull intake: no public endpoint, 3 days kept, an offset to resume from."""
