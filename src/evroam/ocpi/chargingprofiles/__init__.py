"""OCPI chargingprofiles module (2.2.1): the Receiver interface (we are the CPO) and the Sender
interface (we are the eMSP: results and ActiveChargingProfiles from CPOs)."""
