"""FAQ self-service: browse topics and questions, or ask in free text."""
