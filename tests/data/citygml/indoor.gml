<?xml version="1.0" encoding="UTF-8"?>
<core:IndoorFeatures xmlns:core="http://www.opengis.net/indoorgml/1.0/core" xmlns:gml="http://www.opengis.net/gml/3.2"
    gml:id="IFs">
  <gml:boundedBy xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>
  <core:primalSpaceFeatures>
    <core:PrimalSpaceFeatures gml:id="PS1"/>
  </core:primalSpaceFeatures>
</core:IndoorFeatures>
