"""The data layer: Pony entities and the functions that read and write them."""
