"""Record types, enumerations, errors and Arrow schemas shared by every layer of Exhibit."""
