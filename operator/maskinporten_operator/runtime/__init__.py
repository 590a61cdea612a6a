"""The kopf wiring: handlers, applying outcomes, wake-ups, logging set-up."""
