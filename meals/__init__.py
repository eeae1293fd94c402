"""Meal service (助餐): meal points, diners, funding agreements, meals, bookings, deliveries.
Built by the meal-service issue; empty until then."""
